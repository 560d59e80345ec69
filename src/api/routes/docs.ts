import path from 'node:path';
import { Router, type Response } from 'express';
import { ApiError } from '../errors';
import { buildOpenApiDocument } from '../openapi/document';
import { docsAssetParam, type DOCS_ASSET_FILES } from '../openapi/routes';

/**
 * GET /openapi.json: the OpenAPI 3.1 document (src/api/openapi/document.ts).
 * GET /docs: an interactive reference of it (Swagger UI), served entirely by this process: the
 * page, its script and its stylesheet come from the swagger-ui-dist package under
 * /docs/assets/, and the page loads nothing from any other origin (no CDN, no fonts, no
 * validator badge), so it works offline and behind a strict Content-Security-Policy.
 *
 * The page carries its own CSP (below). If helmet is added app-wide, its defaults already fit
 * (`script-src 'self'`: the page has no inline script; styles need `'unsafe-inline'`, which
 * helmet's default `style-src` allows): keep `script-src 'self'` and `connect-src 'self'`.
 */

const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** The page's own initializer: a file, not an inline script, so `script-src 'self'` suffices. */
const INITIALIZER = `'use strict';
window.addEventListener('load', function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.getAttribute('data-spec-url'),
    domNode: root,
    deepLinking: true,
    // The default would fetch a badge from validator.swagger.io.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

const ASSETS: Record<(typeof DOCS_ASSET_FILES)[number], { type: string; file?: string; text?: string }> = {
  'swagger-ui-bundle.js': { type: 'text/javascript', file: path.join(SWAGGER_UI_DIR, 'swagger-ui-bundle.js') },
  'swagger-ui.css': { type: 'text/css', file: path.join(SWAGGER_UI_DIR, 'swagger-ui.css') },
  'docs.js': { type: 'text/javascript', text: INITIALIZER },
};

/** Everything from this origin; inline styles because Swagger UI sets some (React style attributes). */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(base: string): string {
  const b = escapeHtml(base);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Card gateway API reference</title>
<link rel="stylesheet" href="${b}/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="${b}/openapi.json"></div>
<script src="${b}/docs/assets/swagger-ui-bundle.js"></script>
<script src="${b}/docs/assets/docs.js"></script>
</body>
</html>
`;
}

const strict = (res: Response) => res.set({ 'Content-Security-Policy': DOCS_CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });

export function docsRoutes(options: { document?: () => object } = {}): Router {
  const router = Router();
  const build = options.document ?? buildOpenApiDocument;
  // Built on first request, then served as is: the document is a function of the code alone.
  let json: string | undefined;

  router.get('/openapi.json', (_req, res) => {
    json ??= JSON.stringify(build());
    res.type('application/json').set('Cache-Control', 'no-cache').send(json);
  });

  router.get('/docs', (req, res) => {
    strict(res).type('text/html').set('Cache-Control', 'no-cache').send(page(req.baseUrl));
  });

  router.get('/docs/assets/:file', (req, res, next) => {
    const name = docsAssetParam.safeParse(req.params.file);
    if (!name.success) throw new ApiError(404, 'not_found_error', 'asset_not_found', `No asset ${req.params.file}`, 'file');
    const asset = ASSETS[name.data];
    strict(res).type(asset.type).set('Cache-Control', 'public, max-age=3600');
    if (asset.text !== undefined) {
      res.send(asset.text);
      return;
    }
    res.sendFile(asset.file!, { headers: { 'Content-Type': asset.type } }, (err) => {
      // An aborted download is not an error to answer; a missing file (broken install) is.
      if (err && !res.headersSent) next(err);
    });
  });

  return router;
}
