import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { JWT_ALGORITHMS } from '../auth/auth-config';
import { SCOPES } from '../auth/verify-token';
import { RESPONSE_SCHEMAS } from './response-schemas';
import { REQUEST_SCHEMAS, ROUTES, type ResponseSpec, type RouteSpec } from './routes';
import { errorResponse } from './response-schemas';

/**
 * The OpenAPI 3.1 document, generated from the route table (./routes.ts) and the zod schemas in
 * it: nothing here is a hand-written copy of what the API accepts. OpenAPI 3.1 schemas are JSON
 * Schema 2020-12, which is what `z.toJSONSchema` emits with `target: 'draft-2020-12'`.
 *
 * Requests are described as the client sends them (`io: 'input'`: before defaults and
 * transforms), responses as the server sends them (`io: 'output'`).
 */

export const JSON_SCHEMA_TARGET = 'draft-2020-12' as const;
const COMPONENT_REF = (id: string) => `#/components/schemas/${id}`;

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

const TAGS = [
  { name: 'payments', description: 'Create, read, capture, cancel and refund card payments' },
  { name: 'operations', description: 'Health, readiness, metrics and fraud review, for operators and orchestrators' },
  { name: 'codec', description: 'The remote payload codec the Temporal Web UI calls' },
  { name: 'docs', description: 'This document and its reference page' },
];

/** Removes what belongs to a standalone JSON Schema document, not to a schema inside OpenAPI. */
function embedded(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

/** A request-side schema (body, query, path or header) as the client sends it. */
export function inputJsonSchema(schema: z.ZodType): JsonSchema {
  return embedded(z.toJSONSchema(schema, { target: JSON_SCHEMA_TARGET, io: 'input' }) as JsonSchema);
}

function packageInfo(): { name: string; version: string; description?: string } {
  // src/api/openapi/ and dist/api/openapi/ are both three levels under the package root; the
  // Lambda bundle (dist/lambda/handler.js) carries a package.json of its own beside it.
  const beside = path.resolve(__dirname, 'package.json');
  const file = fs.existsSync(beside) && path.basename(__dirname) === 'lambda' ? beside : path.resolve(__dirname, '../../../package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; version: string; description?: string };
}

/** Every response component, generated together so that one nested in another is a `$ref`. */
function responseComponents(): { schemas: Record<string, JsonSchema>; registry: z.core.$ZodRegistry<{ id: string }> } {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(RESPONSE_SCHEMAS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { target: JSON_SCHEMA_TARGET, io: 'output', uri: COMPONENT_REF });
  return { schemas: Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, embedded(s as JsonSchema)])), registry };
}

const edgeError = (description: string): ResponseSpec => ({ description, schema: errorResponse });

/** The routes the edge's limits do not apply to: an orchestrator's probes (src/api/app.ts). */
const UNLIMITED_PATHS = new Set(['/healthz', '/readyz']);

/**
 * What the edge middleware (src/api/app.ts) can answer on a route before the route itself runs,
 * so every route's responses are complete without each row repeating them: 429 from the rate
 * limits (per client address, and per merchant on /v1), and for a route with a body 413 (too
 * large) and 415 (not JSON). A route's own row wins where it says more.
 */
function edgeResponses(route: RouteSpec): Record<number, ResponseSpec> {
  if (UNLIMITED_PATHS.has(route.path)) return {};
  const limited = { 429: edgeError('Too many requests from this address (or, on /v1, for this merchant): retry after the Retry-After delay') };
  if (!route.body && route.path !== '/ops/session') return limited;
  return {
    ...limited,
    413: edgeError('The request body is too large'),
    415: edgeError('The body is not JSON (Content-Type), or its encoding is not supported'),
  };
}

export function buildOpenApiDocument(): OpenApiDocument {
  const pkg = packageInfo();
  const responses = responseComponents();
  const componentOf = new Map<z.ZodType, string>([
    ...Object.entries(REQUEST_SCHEMAS).map(([id, s]) => [s, id] as [z.ZodType, string]),
    ...Object.entries(RESPONSE_SCHEMAS).map(([id, s]) => [s, id] as [z.ZodType, string]),
  ]);

  const responseSchema = (schema: z.ZodType, where: string): JsonSchema => {
    const id = componentOf.get(schema);
    if (id) return { $ref: COMPONENT_REF(id) };
    const json = z.toJSONSchema(schema, { target: JSON_SCHEMA_TARGET, io: 'output', metadata: responses.registry }) as JsonSchema;
    if (json.$defs) throw new Error(`${where}: a response schema that contains a component must be a component itself (add it to RESPONSE_SCHEMAS)`);
    return embedded(json);
  };

  const operation = (route: RouteSpec) => {
    const where = `${route.method.toUpperCase()} ${route.path}`;
    const parameters: Record<string, unknown>[] = [];

    const pathNames = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    const declared = Object.keys(route.params ?? {});
    if (pathNames.join() !== declared.join()) throw new Error(`${where}: params ${JSON.stringify(declared)} do not match the path's ${JSON.stringify(pathNames)}`);
    for (const [name, schema] of Object.entries(route.params ?? {})) {
      parameters.push({ name, in: 'path', required: true, schema: inputJsonSchema(schema) });
    }

    if (route.query) {
      const query = inputJsonSchema(route.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
      for (const [name, schema] of Object.entries(query.properties ?? {})) {
        parameters.push({ name, in: 'query', required: (query.required ?? []).includes(name), schema });
      }
    }

    for (const header of route.headers ?? []) {
      parameters.push({ name: header.name, in: 'header', required: header.required, description: header.description, schema: inputJsonSchema(header.schema) });
    }

    const scope = route.auth === 'public' ? undefined : route.auth.scope;
    const description = [route.description, scope ? `Requires a bearer token with the \`${scope}\` scope.` : undefined].filter(Boolean).join('\n\n');
    const op: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      ...(description ? { description } : {}),
      tags: route.tags,
      ...(parameters.length ? { parameters } : {}),
      // OpenAPI 3.1 lets a bearer requirement list the roles (here: scopes) it needs. Public
      // routes say so explicitly with an empty list.
      security: scope ? [{ bearerAuth: [scope] }] : [],
    };
    if (route.body) {
      const id = componentOf.get(route.body);
      op.requestBody = {
        required: route.bodyRequired ?? true,
        content: { 'application/json': { schema: id ? { $ref: COMPONENT_REF(id) } : inputJsonSchema(route.body) } },
      };
    }
    op.responses = Object.fromEntries(
      Object.entries({ ...edgeResponses(route), ...route.responses }).map(([status, response]) => [
        status,
        {
          description: response.description,
          ...(scope && (status === '401' || status === '403') ? { headers: { 'WWW-Authenticate': { description: 'RFC 6750 challenge', schema: { type: 'string' } } } } : {}),
          ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: responseSchema(response.schema, where) } } } : {}),
          ...(response.links ? { links: response.links } : {}),
        },
      ]),
    );
    return op;
  };

  const paths: OpenApiDocument['paths'] = {};
  const operationIds = new Set<string>();
  for (const route of ROUTES) {
    if (operationIds.has(route.operationId)) throw new Error(`operationId ${route.operationId} is used twice`);
    operationIds.add(route.operationId);
    const item = (paths[route.path] ??= {});
    if (item[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is in the route table twice`);
    item[route.method] = operation(route);
  }

  return {
    openapi: '3.1.1',
    info: { title: pkg.name, version: pkg.version, ...(pkg.description ? { description: pkg.description } : {}) },
    tags: TAGS,
    paths,
    components: {
      schemas: {
        ...Object.fromEntries(Object.entries(REQUEST_SCHEMAS).map(([id, s]) => [id, inputJsonSchema(s)])),
        ...responses.schemas,
      },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            `A JWT signed by the configured issuer (${JWT_ALGORITHMS.join(', ')}), with \`sub\` the merchant (or the operator) ` +
            `and \`scope\` a space-separated list of ${SCOPES.join(', ')}. \`npm run token\` mints development tokens.`,
        },
      },
    },
  };
}
