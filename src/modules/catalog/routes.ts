import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { callContext } from '../../platform/http/context.ts';
import { type ApiVersion, parseMoney, renderMoney } from '../../platform/money.ts';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../platform/pagination.ts';
import type { CatalogApi, Product } from './contract.ts';
import { MAX_STOCK } from './service.ts';

const MoneySchema = Type.Object(
  { amount_minor: Type.Integer(), currency: Type.String() },
  { additionalProperties: false },
);
/** v1 sends a decimal number, v2 `{ amount_minor, currency }`; `parseMoney` decides per version. */
const PriceSchema = Type.Union([Type.Number(), MoneySchema], {
  description: 'v1: a decimal number of major units; v2: { amount_minor, currency }',
});
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 2000 });
const Stock = Type.Integer({ minimum: 0, maximum: MAX_STOCK });

const CreateBody = Type.Object(
  { name: Name, description: Type.Optional(Description), price: PriceSchema, stock: Stock },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    price: Type.Optional(PriceSchema),
    stock: Type.Optional(Stock),
  },
  { additionalProperties: false, minProperties: 1 },
);
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});
const ProductSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  price: PriceSchema,
  stock: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const ProductPageSchema = Type.Object({
  items: Type.Array(ProductSchema),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

const tags = ['catalog'];
/** Clients may keep a product but must ask again before each use, so none is older than its last update. */
const CACHE_CONTROL = 'public, max-age=0, must-revalidate';

function renderProduct(version: ApiVersion, product: Product) {
  return {
    id: product.id,
    name: product.name,
    description: product.description,
    price: renderMoney(version, product.price_minor, product.currency),
    stock: product.stock,
    created_at: product.created_at,
    updated_at: product.updated_at,
  };
}

/** Strong, and per API version: the two versions write different bodies for the same product version. */
function etagOf(product: Product, version: ApiVersion): string {
  return `"${product.id}.${product.version}.v${version}"`;
}

/** `If-None-Match` compares weakly (RFC 9110 13.1.2): a list of tags, or `*`. */
function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

/** `GET/POST /products`, `GET/PATCH /products/{id}`. */
export function createCatalogRoutes(api: CatalogApi): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

    app.get(
      '/products',
      {
        schema: {
          tags,
          summary: 'List products',
          querystring: ListQuery,
          response: { 200: ProductPageSchema },
        },
      },
      async (request, reply) => {
        const { limit, cursor } = request.query;
        const page = await api.listProducts(callContext(request), { limit, cursor });
        reply.header('cache-control', CACHE_CONTROL);
        return {
          items: page.items.map((product) => renderProduct(request.apiVersion, product)),
          next_cursor: page.next_cursor,
        };
      },
    );

    app.get(
      '/products/:id',
      {
        schema: {
          tags,
          summary: 'Read a product',
          params: IdParams,
          response: { 200: ProductSchema, 304: { description: 'Not modified: the ETag matched' } },
        },
      },
      async (request, reply) => {
        const product = await api.getProduct(callContext(request), request.params.id);
        const etag = etagOf(product, request.apiVersion);
        reply.header('etag', etag).header('cache-control', CACHE_CONTROL).header('vary', 'API-Version');
        const ifNoneMatch = request.headers['if-none-match'];
        if (noneMatch(ifNoneMatch, etag)) return reply.code(304).send();
        return renderProduct(request.apiVersion, product);
      },
    );

    app.post(
      '/products',
      {
        onRequest: app.requireAdmin,
        schema: {
          tags,
          summary: 'Create a product (admin)',
          security: [{ bearer: [] }],
          body: CreateBody,
          response: { 201: ProductSchema },
        },
      },
      async (request, reply) => {
        const { name, description, price, stock } = request.body;
        const product = await api.createProduct(callContext(request), {
          name,
          price_minor: parseMoney(request.apiVersion, price, '/body/price'),
          stock,
          ...(description !== undefined ? { description } : {}),
        });
        return reply.code(201).send(renderProduct(request.apiVersion, product));
      },
    );

    app.patch(
      '/products/:id',
      {
        onRequest: app.requireAdmin,
        schema: {
          tags,
          summary: 'Change a product (admin)',
          security: [{ bearer: [] }],
          params: IdParams,
          body: UpdateBody,
          response: { 200: ProductSchema },
        },
      },
      async (request) => {
        const { name, description, price, stock } = request.body;
        const product = await api.updateProduct(callContext(request), request.params.id, {
          ...(name !== undefined ? { name } : {}),
          ...(description !== undefined ? { description } : {}),
          ...(price !== undefined
            ? { price_minor: parseMoney(request.apiVersion, price, '/body/price') }
            : {}),
          ...(stock !== undefined ? { stock } : {}),
        });
        return renderProduct(request.apiVersion, product);
      },
    );
  };
}
