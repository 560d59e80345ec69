// Test cases for ../rules/tls.yml (semgrep --test). Bad on purpose; not scanned as code.
import * as https from 'node:https';
// ruleid: gateway.tls-verification-disabled
https.request({ host: 'acquirer.example', rejectUnauthorized: false });
// ruleid: gateway.tls-verification-disabled
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
// ok: gateway.tls-verification-disabled
https.request({ host: 'acquirer.example', ca: 'bundle' });
