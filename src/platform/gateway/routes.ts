import { normalizePath } from './paths.ts';

/**
 * One line of the gateway's route table: requests whose path is `prefix` or lies under it go to
 * `service`.
 * @example { prefix: '/products', service: 'catalog' }
 */
export interface GatewayRoute {
  /** A normal path (see `normalizePath`) without a trailing slash, e.g. `/auth`; `/` routes everything. */
  readonly prefix: string;
  readonly service: string;
}

/** The route table, compiled once: which service owns a normal path. */
export interface RouteTable {
  /** The service owning `path` by longest prefix, or undefined (a 404) for unrouted and internal paths. */
  lookup(path: string): string | undefined;
}

const INTERNAL = '/internal';

/** True for `/internal` and anything under it, in any letter case: never reachable from outside. */
export function isInternalPath(path: string): boolean {
  if (path.length < INTERNAL.length) return false;
  if (path.length > INTERNAL.length && path.charCodeAt(INTERNAL.length) !== 0x2f) return false;
  return path.slice(0, INTERNAL.length).toLowerCase() === INTERNAL;
}

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path : path.slice(0, end);
}

/**
 * Compiles `routes` into a lookup by first segment, so a request costs one map read and a prefix
 * comparison or two. Throws on a prefix that is not normal, internal, or listed twice.
 */
export function compileRoutes(routes: readonly GatewayRoute[]): RouteTable {
  const bySegment = new Map<string, GatewayRoute[]>();
  let root: string | undefined;
  for (const route of routes) {
    const { prefix } = route;
    const normal = normalizePath(prefix);
    if (!normal.ok || normal.path !== prefix || (prefix.length > 1 && prefix.endsWith('/')))
      throw new Error(`Route prefix ${prefix} is not a normal path without a trailing slash`);
    if (isInternalPath(prefix)) throw new Error(`Route prefix ${prefix} is internal`);
    if (prefix === '/') {
      if (root !== undefined) throw new Error('Route prefix / is listed twice');
      root = route.service;
      continue;
    }
    const candidates = bySegment.get(firstSegment(prefix)) ?? [];
    if (candidates.some((other) => other.prefix === prefix))
      throw new Error(`Route prefix ${prefix} is listed twice`);
    candidates.push(route);
    // Longest prefix first, so the first match is the most specific one.
    candidates.sort((a, b) => b.prefix.length - a.prefix.length);
    bySegment.set(firstSegment(prefix), candidates);
  }
  return {
    lookup(path) {
      if (isInternalPath(path)) return undefined;
      const candidates = bySegment.get(firstSegment(path));
      if (candidates !== undefined) {
        for (const { prefix, service } of candidates) {
          if (
            path.startsWith(prefix) &&
            (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f)
          )
            return service;
        }
      }
      return root;
    },
  };
}
