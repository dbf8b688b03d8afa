import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';

/** The part of JSON Schema the shop's TypeBox schemas use. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  minProperties?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  default?: unknown;
}

interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema: JsonSchema;
}

/** One public operation as the shop's OpenAPI document declares it. */
export interface Operation {
  readonly method: string;
  /** The path template, e.g. `/orders/{id}/cancel`. */
  readonly path: string;
  readonly parameters: readonly Parameter[];
  readonly body: JsonSchema | undefined;
  /** What a 2xx answer carries: its fields that `body` lacks are read-only. */
  readonly response: JsonSchema | undefined;
}

type Content = { content?: Record<string, { schema?: JsonSchema }> };

export interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { parameters?: Parameter[]; requestBody?: Content; responses?: Record<string, Content> }>
  >;
}

/** Every operation of the document, so a new route is fuzzed without editing the test. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => {
      const ok = Object.entries(op.responses ?? {}).find(([status]) => /^2/.test(status))?.[1];
      return {
        method: method.toUpperCase(),
        path,
        parameters: op.parameters ?? [],
        body: op.requestBody?.content?.['application/json']?.schema,
        response: ok?.content?.['application/json']?.schema,
      };
    }),
  );
}

/**
 * Real values to mix in by field name (`product_id`, `username`, `currency`…), so that valid requests get
 * past the lookups and checks behind the schema; a path's `{id}` takes its resource's (`/orders/{id}`: `order_id`).
 */
export type KnownValues = Readonly<Record<string, readonly string[]>>;

/** Any code point, lone surrogates and control characters included. */
const anyText = (maxLength: number) => fc.string({ unit: 'binary', maxLength });

const cap = (n: number | undefined, limit: number) => Math.min(n ?? limit, limit);

/** Values that satisfy `schema`; a string field named in `known` often takes one of its real values. */
export function validOf(schema: JsonSchema, known: KnownValues = {}, name = ''): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => validOf(s, known, name)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string': {
      const real = known[name] ?? [];
      const { minLength = 0, maxLength = 300 } = schema;
      let text: fc.Arbitrary<string>;
      if (schema.pattern) text = fc.stringMatching(new RegExp(schema.pattern));
      else if (schema.format === 'email') text = fc.emailAddress();
      else if (schema.format === 'date-time')
        text = fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      else text = fc.string({ unit: 'binary', minLength, maxLength: cap(maxLength, 60) });
      // Lengths count code points, as ajv does.
      const fits = text.filter((s) => [...s].length >= minLength && [...s].length <= maxLength);
      return real.length > 0
        ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...real) }, { weight: 1, arbitrary: fits })
        : fits;
    }
    case 'integer': {
      const min = schema.minimum ?? Number.MIN_SAFE_INTEGER;
      const max = schema.maximum ?? Number.MAX_SAFE_INTEGER;
      return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max));
    }
    case 'number': {
      const bounds = { min: schema.minimum ?? -1e12, max: schema.maximum ?? 1e12 };
      // Whole cents too, which a v1 price must be.
      return fc.oneof(
        fc.double({ ...bounds, noNaN: true }),
        fc.integer({ min: 0, max: 10_000_000 }).map((n) => n / 100),
      );
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(validOf(schema.items ?? {}, known), {
        minLength: schema.minItems ?? 0,
        maxLength: cap(schema.maxItems, 60),
      });
    case 'object': {
      const properties = schema.properties ?? {};
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([key, s]) => [key, validOf(s, known, key)])),
        { requiredKeys: schema.required ?? [] },
      );
      const min = schema.minProperties ?? 0;
      return min > 0 ? record.filter((o) => Object.keys(o).length >= min) : record;
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Keys a client has no business sending: read-only fields of every resource, and prototype keys. */
const INTRUDERS = ['id', 'role', 'status', 'total', 'unit_price', 'created_at', '__proto__', 'constructor'];

/** Values that break `schema` in one place, checked against it, so nothing valid slips in. */
export function invalidOf(schema: JsonSchema, known: KnownValues = {}): fc.Arbitrary<unknown> {
  if (!constrains(schema)) throw new Error(`Nothing breaks the schema ${JSON.stringify(schema)}`);
  const check = compile(schema, false);
  const near: Array<fc.Arbitrary<unknown>> = [
    fc.constantFrom<unknown>('1', '', true, false, null, 0, -1, 1.5, 2 ** 53 + 2, [], {}, 'null'),
    fc.jsonValue({ maxDepth: 3 }),
  ];
  if (schema.type === 'string') {
    near.push(anyText((schema.maxLength ?? 300) + 50), fc.integer());
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    const { minimum = 0, maximum = 1e6 } = schema;
    near.push(
      fc.integer({ min: maximum + 1, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: minimum - 1 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer().map(String),
    );
  }
  if (schema.type === 'array' && schema.items) {
    near.push(
      fc.array(fc.oneof(validOf(schema.items, known), invalidOf(schema.items, known)), {
        maxLength: (schema.maxItems ?? 50) + 5,
      }),
    );
  }
  const variants = (schema.anyOf ?? [schema]).filter((s) => s.type === 'object' && s.properties);
  for (const variant of variants) {
    const valid = validOf(variant, known) as fc.Arbitrary<Record<string, unknown>>;
    const keys = Object.keys(variant.properties!);
    const breakable = keys.filter((key) => constrains(variant.properties![key]!));
    near.push(
      // One field broken.
      fc
        .tuple(valid, fc.constantFrom(...breakable))
        .chain(([o, key]) => invalidOf(variant.properties![key]!, known).map((v) => ({ ...o, [key]: v }))),
      // One required field missing.
      fc.tuple(valid, fc.constantFrom(...keys)).map(([o, key]) => {
        const { [key]: _dropped, ...rest } = o;
        return rest;
      }),
      // An unknown or read-only field.
      fc
        .tuple(valid, fc.oneof(fc.constantFrom(...INTRUDERS), fc.string({ minLength: 1, maxLength: 10 })))
        .chain(([o, key]) => fc.jsonValue({ maxDepth: 1 }).map((v) => ({ ...o, [key]: v }))),
    );
  }
  return fc.oneof(...near).filter((v) => !check(v));
}

/** Whether some JSON value breaks `schema`: an empty schema takes anything. */
const constrains = (schema: JsonSchema) =>
  schema.type !== undefined || schema.enum !== undefined || schema.anyOf !== undefined;

const ajvs = {
  body: new Ajv({ strict: false, allErrors: false, useDefaults: true, coerceTypes: false }),
  text: new Ajv({ strict: false, allErrors: false, useDefaults: true, coerceTypes: true }),
};
for (const ajv of Object.values(ajvs)) addFormats.default(ajv);
const compiled = {
  body: new WeakMap<object, ValidateFunction>(),
  text: new WeakMap<object, ValidateFunction>(),
};

/** ajv as the shop's edge configures it: bodies never coerced, text (query, path, headers) coerced. */
export function compile(schema: JsonSchema, text: boolean): ValidateFunction {
  const kind = text ? 'text' : 'body';
  let validate = compiled[kind].get(schema);
  if (!validate) {
    validate = ajvs[kind].compile(schema);
    compiled[kind].set(schema, validate);
  }
  return validate;
}
