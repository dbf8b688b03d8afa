import { platformErrors } from '../errors.ts';
import { IDENTITY_HEADER, type InternalAuth } from '../rpc/identity.ts';
import { promised, readAll, type UpstreamAnswer } from './exchange.ts';
import { forward } from './proxy.ts';
import type { RouteTable } from './routes.ts';
import type { Upstreams } from './upstreams.ts';

interface OpenApiDocument {
  paths?: Record<string, unknown>;
  components?: Record<string, Record<string, unknown> | undefined>;
  tags?: Array<{ name: string }>;
  [key: string]: unknown;
}

/** How long a merged document is served before the services are asked again. */
const DOCUMENT_TTL_MS = 60_000;

/**
 * The public API document behind the gateway: each service's `/openapi.json` (from one instance),
 * keeping only the paths the route table sends to that service, merged into the gateway's own document
 * (its title, version notes and security schemes). Paths of a service that cannot be reached are left
 * out until it answers; the merged document is kept for a minute once every service has answered.
 */
export function createOpenApiMerger(deps: {
  readonly services: readonly string[];
  readonly routes: RouteTable;
  readonly upstreams: Upstreams;
  readonly internalAuth: InternalAuth;
}): (own: object) => Promise<object> {
  let cached: { document: object; until: number } | undefined;

  async function fetchDocument(service: string): Promise<OpenApiDocument | undefined> {
    const upstream = deps.upstreams.get(service);
    if (upstream === undefined) return undefined;
    try {
      const identity = deps.internalAuth.sign(undefined);
      const response = await promised<UpstreamAnswer>((done) =>
        forward(
          upstream,
          {
            method: 'GET',
            path: '/openapi.json',
            headers: {
              [IDENTITY_HEADER]: identity,
              'x-request-id': `openapi-${service}`,
              accept: 'application/json',
            },
            body: undefined,
            idempotent: true,
          },
          deps.upstreams.options,
          done,
        ),
      );
      const body = await readAll(response.body);
      return response.statusCode === 200 ? (JSON.parse(body.toString('utf8')) as OpenApiDocument) : undefined;
    } catch {
      return undefined;
    }
  }

  return async (own) => {
    if (cached !== undefined && cached.until > Date.now()) return cached.document;
    const documents = await Promise.all(deps.services.map(fetchDocument));
    if (documents.every((document) => document === undefined))
      throw platformErrors.SERVICE_UNAVAILABLE('No service answered with its API document');
    const merged = structuredClone(own) as OpenApiDocument;
    const paths: Record<string, unknown> = { ...merged.paths };
    const components: Record<string, Record<string, unknown>> = {};
    for (const [name, section] of Object.entries(merged.components ?? {})) components[name] = { ...section };
    const tags = new Map((merged.tags ?? []).map((tag) => [tag.name, tag]));
    documents.forEach((document, index) => {
      if (document === undefined) return;
      const service = deps.services[index]!;
      for (const [path, item] of Object.entries(document.paths ?? {})) {
        if (deps.routes.lookup(path) === service) paths[path] = item;
      }
      for (const [name, section] of Object.entries(document.components ?? {})) {
        components[name] = { ...section, ...components[name] };
      }
      for (const tag of document.tags ?? []) if (!tags.has(tag.name)) tags.set(tag.name, tag);
    });
    const document = {
      ...merged,
      paths,
      components,
      ...(tags.size > 0 ? { tags: [...tags.values()] } : {}),
    };
    if (documents.every((d) => d !== undefined)) cached = { document, until: Date.now() + DOCUMENT_TTL_MS };
    return document;
  };
}
