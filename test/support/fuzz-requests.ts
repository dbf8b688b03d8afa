import fc from 'fast-check';
import {
  compile,
  invalidOf,
  type JsonSchema,
  type KnownValues,
  type Operation,
  validOf,
} from './openapi-fuzz.ts';

/** Who sends a request: a real customer or admin token, none, or a token that is not one. */
export type Caller = 'customer' | 'admin' | 'anonymous' | 'forged';

/** A request as the fuzzer sends it; `body` is raw text and need not be JSON. */
export interface FuzzRequest {
  readonly method: string;
  /** The declared operation this method and path template reach, if any. */
  readonly operation: Operation | undefined;
  readonly path: string;
  readonly caller: Caller;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  /** Path parameters as the server decodes them; `undefined` when they cannot be decoded. */
  readonly params: Record<string, string> | undefined;
}

const stringify = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
/** Any printable Latin-1 text: what a header value may carry (fetch refuses the rest). */
const headerText = fc
  .string({
    unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c === 0x7f ? 0x41 : c)),
    maxLength: 300,
  })
  .map((s) => s.trim());
/** Path segments a browser would not write: broken escapes, overlong UTF-8, a lone surrogate, NUL. */
const RAW_SEGMENTS = ['%', '%zz', '%E0%A4%A', '%c0%af', '%ff', '%ed%a0%80', '%2F', '%00', ';x'];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/problem+json',
];
const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** `arb` one time in `oneIn`, else `null`. */
const sometimes = <T>(arb: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

function paramValue(schema: JsonSchema, known: KnownValues, name: string, path: string) {
  // `/orders/{id}` takes the values of `order_id`.
  const resource = /^\/([a-z]+)s\/\{id\}/.exec(path)?.[1];
  const field = name === 'id' && resource ? `${resource}_id` : name;
  const text = fc.oneof(
    { weight: 3, arbitrary: validOf(schema, known, field).map(stringify) },
    { weight: 1, arbitrary: invalidOf(schema).map(stringify) },
  );
  // An empty segment is another route, not a bad parameter.
  const cooked = text.filter((s) => s !== '');
  return fc.oneof(
    {
      weight: 9,
      arbitrary: cooked.map((s) => s.toWellFormed()).map((s) => ({ raw: encodeURIComponent(s), decoded: s })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw) => ({ raw, decoded: safeDecode(raw) })),
    },
  );
}

function safeDecode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Encoded values of one query parameter (several when it repeats), now and then with raw bad escapes. */
const queryValue = (schema: JsonSchema, known: KnownValues, name: string): fc.Arbitrary<string[]> =>
  fc.oneof(
    { weight: 3, arbitrary: validOf(schema, known, name).map((v) => [encode(stringify(v))]) },
    { weight: 3, arbitrary: invalidOf(schema).map((v) => [encode(stringify(v))]) },
    {
      weight: 1,
      arbitrary: fc.array(fc.string({ maxLength: 5 }).map(encode), { minLength: 2, maxLength: 3 }),
    },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw) => [raw]) },
  );

const encode = (s: string) => encodeURIComponent(s.toWellFormed());

/** Requests for one operation: valid and invalid parameters, headers and bodies, from its schemas. */
function requestsFor(
  op: Operation,
  known: KnownValues,
  operations: readonly Operation[],
): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  const declared = new Set(operations.filter((o) => o.path === op.path).map((o) => o.method));
  const undeclared = OTHER_METHODS.filter((m) => !declared.has(m));
  const withBody = op.body !== undefined;
  const body = withBody
    ? fc.oneof(
        { weight: 5, arbitrary: validOf(op.body!, known).map(stringify) },
        { weight: 5, arbitrary: invalidOf(op.body!, known).map(stringify) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
        { weight: 1, arbitrary: fc.constant(undefined) },
      )
    : sometimes(fc.jsonValue({ maxDepth: 2 }).map(stringify), 5).map((b) => b ?? undefined);

  return fc
    .record({
      prefix: fc.constantFrom('', '/v1', '/v2'),
      method: undeclared.length > 0 ? sometimes(fc.constantFrom(...undeclared), 10) : fc.constant(null),
      params: fc.tuple(...pathParams.map((p) => paramValue(p.schema, known, p.name, op.path))),
      query: fc.tuple(...queryParams.map((p) => fc.option(queryValue(p.schema, known, p.name), { freq: 3 }))),
      extraQuery: sometimes(
        fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 })),
        5,
      ),
      headers: fc.tuple(
        ...headerParams.map((p) =>
          fc.option(fc.oneof(validOf(p.schema).map(stringify), headerText), { freq: 2 }),
        ),
      ),
      apiVersion: sometimes(fc.oneof(fc.constantFrom('1', '2'), headerText), 4),
      contentType: fc.oneof(
        { weight: 8, arbitrary: fc.constant('application/json') },
        { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerText) },
      ),
      caller: fc.constantFrom<Caller>('customer', 'admin', 'anonymous', 'forged'),
      body,
    })
    .map((r) => {
      const method = r.method ?? op.method;
      const noBody = method === 'GET' || method === 'HEAD';
      const pairs: string[] = [];
      queryParams.forEach((p, i) => {
        for (const v of r.query[i] ?? []) pairs.push(`${p.name}=${v}`);
      });
      if (r.extraQuery) pairs.push(r.extraQuery.map(encode).join('='));
      let path = op.path;
      const params: Record<string, string> = {};
      let decodable = true;
      pathParams.forEach((p, i) => {
        const { raw, decoded } = r.params[i]!;
        path = path.replace(`{${p.name}}`, raw);
        if (decoded === undefined) decodable = false;
        else params[p.name] = decoded;
      });
      const headers: Record<string, string> = {};
      headerParams.forEach((p, i) => {
        const value = r.headers[i];
        if (value !== null && value !== undefined) headers[p.name] = value;
      });
      if (r.apiVersion !== null) headers['api-version'] = r.apiVersion;
      const sendsBody = !noBody && r.body !== undefined;
      if (sendsBody) headers['content-type'] = r.contentType;
      const query = pairs.join('&');
      const request = {
        method,
        operation: operations.find((o) => o.path === op.path && o.method === method),
        path: `${r.prefix}${path}${query ? `?${query}` : ''}`,
        caller: r.caller,
        headers,
        body: sendsBody ? r.body : undefined,
        params: decodable ? params : undefined,
      };
      // A counterexample prints as the request it is, not as its operation's schemas.
      const { operation: _, ...shown } = request;
      return Object.assign(request, { [fc.toStringMethod]: () => JSON.stringify(shown) });
    });
}

/** Requests for every operation of the document, each operation equally likely. */
export function requestArbitrary(
  operations: readonly Operation[],
  known: KnownValues,
): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(...operations.map((op) => requestsFor(op, known, operations)));
}

type Where = 'path' | 'query' | 'header';
const parameterSchemas = new WeakMap<Operation, Record<Where, JsonSchema>>();

/** An operation's parameters of each kind as one object schema, as fastify validates them. */
function parametersOf(op: Operation): Record<Where, JsonSchema> {
  let schemas = parameterSchemas.get(op);
  if (!schemas) {
    const of = (where: Where): JsonSchema => {
      const declared = op.parameters.filter((p) => p.in === where);
      return {
        type: 'object',
        properties: Object.fromEntries(declared.map((p) => [p.name, p.schema])),
        // A parameter with a default is filled in when absent.
        required: declared.filter((p) => p.required && p.schema.default === undefined).map((p) => p.name),
      };
    };
    schemas = { path: of('path'), query: of('query'), header: of('header') };
    parameterSchemas.set(op, schemas);
  }
  return schemas;
}

/** Whether a request the shop accepted was valid by its operation's schemas (ajv, as the edge runs it). */
export function wasValid(request: FuzzRequest): boolean {
  const op = request.operation;
  if (op === undefined || request.params === undefined) return false;
  const url = new URL(request.path, 'http://x');
  const schemas = parametersOf(op);
  const parts: Array<[Where, Record<string, unknown>]> = [
    ['path', request.params],
    ['query', queryObject(url.searchParams)],
    ['header', request.headers],
  ];
  for (const [where, values] of parts) {
    if (!compile(schemas[where], true)(structuredClone(values))) return false;
  }
  if (op.body === undefined) return true;
  if (request.body === undefined || !/^application\/json\b/i.test(request.headers['content-type'] ?? ''))
    return false;
  try {
    return compile(op.body, false)(JSON.parse(request.body));
  } catch {
    return false;
  }
}

function queryObject(search: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(search.keys())) {
    const all = search.getAll(key);
    out[key] = all.length === 1 ? all[0]! : all;
  }
  return out;
}
