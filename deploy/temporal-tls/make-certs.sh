#!/bin/sh
# Makes the mTLS material for Temporal into $1 (default /certs, the compose `temporal-certs`
# volume): a private CA, the frontend's server certificate (SAN = the compose host name) and one
# client certificate shared by the gateway processes and the Web UI. Run once by the
# `temporal-certs` compose job; a second run keeps what exists, so restarts do not rotate the CA
# under running processes (delete the volume to rotate).
# POSIX sh and openssl only, so it runs in a small openssl image and in the test (test/unit/temporal-tls-certs.test.ts).
set -eu

DIR="${1:-/certs}"
SERVER_NAME="${TEMPORAL_TLS_SERVER_NAME:-temporal}"
DAYS="${TEMPORAL_TLS_DAYS:-825}"
# The uid the temporalio images and the gateway image (USER node) run as.
OWNER="${TEMPORAL_TLS_OWNER:-1000:1000}"

mkdir -p "$DIR"
cd "$DIR"
if [ -s ca.pem ] && [ -s server.pem ] && [ -s client.pem ]; then
  echo "temporal-tls: certificates already in $DIR, kept"
  exit 0
fi

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
  -subj "/CN=card-gateway Temporal CA" -keyout "$work/ca.key" -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# sign NAME CN EXTENSIONS: a P-256 key and a certificate signed by the CA.
sign() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$work/$1.csr" 2>/dev/null
  printf '%s\n' "$3" > "$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA ca.pem -CAkey "$work/ca.key" -CAserial "$work/ca.srl" -CAcreateserial \
    -days "$DAYS" -extfile "$work/$1.ext" -out "$1.pem" 2>/dev/null
}

sign server "$SERVER_NAME" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$SERVER_NAME,DNS:localhost,IP:127.0.0.1"
sign client "card-gateway" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

# The CA key is not kept: nothing can issue another certificate this cluster trusts.
chmod 0644 ca.pem server.pem client.pem
chmod 0600 server.key
# The client key is read by the gateway (uid 1000) and the Web UI image; the volume is mounted only
# into the services that talk to Temporal.
chmod 0644 client.key
chown "$OWNER" server.key server.pem 2>/dev/null || true
echo "temporal-tls: CA, server ($SERVER_NAME) and client certificates written to $DIR"
