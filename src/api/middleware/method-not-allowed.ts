import type { Express, RequestHandler } from 'express';
import { ApiError } from '../errors';
import { registeredRoutes } from '../openapi/routes';

/**
 * 405 for a method a known path does not serve, with the Allow header RFC 9110 §15.5.6 requires
 * and the API's error shape (naming the route's pattern, never the raw path: it may hold anything); 404 stays for paths nothing serves. Mount it after every router
 * and before the 404 handler. The routes are read from the app itself (the same walk
 * test/unit/openapi.test.ts checks against the OpenAPI document), once, on the first request
 * that needs them: after start-up, when every router is mounted.
 */
export function methodNotAllowed(app: Express): RequestHandler {
  let table: { path: string; pattern: RegExp; methods: string[] }[] | undefined;
  const build = () => {
    const byPath = new Map<string, Set<string>>();
    for (const route of registeredRoutes(app)) {
      const methods = byPath.get(route.path) ?? new Set<string>();
      methods.add(route.method.toUpperCase());
      // Express answers HEAD with the GET route.
      if (route.method === 'get') methods.add('HEAD');
      byPath.set(route.path, methods);
    }
    return [...byPath].map(([path, methods]) => ({
      path,
      // `{id}` matches one path segment, as Express's `:id` does.
      pattern: new RegExp(`^${path.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}/?$`),
      methods: [...methods].sort(),
    }));
  };
  return (req, res, next) => {
    table ??= build();
    const matching = table.filter((entry) => entry.pattern.test(req.path));
    const allowed = matching.flatMap((entry) => entry.methods);
    if (allowed.length === 0 || allowed.includes(req.method)) {
      next();
      return;
    }
    const allow = [...new Set(allowed)].sort().join(', ');
    res.set('Allow', allow);
    next(new ApiError(405, 'invalid_request_error', 'method_not_allowed', `${req.method} is not allowed on ${matching[0]!.path}; allowed: ${allow}`));
  };
}
