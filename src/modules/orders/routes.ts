import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { crashPoint } from '../../platform/faults.ts';
import { callContext } from '../../platform/http/context.ts';
import { type ApiVersion, renderMoney } from '../../platform/money.ts';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../platform/pagination.ts';
import type { PaymentMethod } from '../payments/index.ts';
import type { Order, OrdersApi } from './contract.ts';
import {
  DEFAULT_PAYMENT_METHOD,
  MAX_LINES,
  MAX_PRODUCT_ID_LENGTH,
  MAX_QUANTITY,
  PAYMENT_METHODS,
} from './place-input.ts';

const ProductId = Type.String({ minLength: 1, maxLength: MAX_PRODUCT_ID_LENGTH });
const Quantity = Type.Integer({ minimum: 1, maximum: MAX_QUANTITY });
const UserId = Type.String({ minLength: 1, maxLength: 100, description: "Must be the caller's own id" });
const PaymentMethodSchema = Type.Union(
  PAYMENT_METHODS.map((m) => Type.Literal(m)),
  { description: `Defaults to ${DEFAULT_PAYMENT_METHOD}; pm_card_chargeDeclined is declined` },
);
const ItemsBody = Type.Object(
  {
    items: Type.Array(
      Type.Object({ product_id: ProductId, quantity: Quantity }, { additionalProperties: false }),
      {
        minItems: 1,
        maxItems: MAX_LINES,
      },
    ),
    user_id: Type.Optional(UserId),
    payment_method: Type.Optional(PaymentMethodSchema),
  },
  { additionalProperties: false },
);
const SingleItemBody = Type.Object(
  {
    product_id: ProductId,
    quantity: Quantity,
    user_id: Type.Optional(UserId),
    payment_method: Type.Optional(PaymentMethodSchema),
  },
  { additionalProperties: false },
);
const PlaceBody = Type.Union([ItemsBody, SingleItemBody]);
const PlaceHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      pattern: '^[\\x21-\\x7E]{1,255}$',
      description: 'A retry with the same key and body gets the first answer and places nothing new',
    }),
  ),
});
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  user_id: Type.Optional(
    Type.String({ minLength: 1, maxLength: 100, description: "Admins only: another user's orders" }),
  ),
});

const Money = Type.Object({ amount_minor: Type.Integer(), currency: Type.String() });
const Price = Type.Union([Type.Number(), Money, Type.Null()], {
  description: 'v1: a decimal number of major units; v2: { amount_minor, currency }; null while unpriced',
});
const OrderSchema = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  items: Type.Array(Type.Object({ product_id: Type.String(), quantity: Type.Integer(), unit_price: Price })),
  total: Price,
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('confirmed'),
    Type.Literal('cancelled'),
    Type.Literal('shipped'),
  ]),
  cancel_reason: Type.Optional(
    Type.String({ description: 'Only on a cancelled order: an error code, or CANCELLED_BY_USER' }),
  ),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const OrderPageSchema = Type.Object({
  items: Type.Array(OrderSchema),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
const OrderEventsSchema = Type.Array(
  Type.Object({
    type: Type.String(),
    version: Type.Integer(),
    occurred_at: Type.String({ format: 'date-time' }),
    data: Type.Object({}, { additionalProperties: true }),
  }),
);

const tags = ['orders'];
const ORDER_DESCRIPTION =
  '`unit_price` is the price when the order was placed. While an order is `pending` and its stock is ' +
  'not reserved yet, `unit_price` and `total` are null. `cancel_reason` is present on cancelled orders.';

/** The order as the API writes it, money per version. */
export function renderOrder(version: ApiVersion, order: Order) {
  const money = (minor: number | null) =>
    minor === null ? null : renderMoney(version, minor, order.currency);
  return {
    id: order.id,
    user_id: order.user_id,
    items: order.items.map((i) => ({
      product_id: i.product_id,
      quantity: i.quantity,
      unit_price: money(i.unit_price_minor),
    })),
    total: money(order.total_minor),
    status: order.status,
    ...(order.status === 'cancelled' && order.cancel_reason !== null
      ? { cancel_reason: order.cancel_reason }
      : {}),
    created_at: order.created_at,
    updated_at: order.updated_at,
  };
}

/** `POST/GET /orders`, `GET /orders/{id}`, `GET /orders/{id}/events`, `POST /orders/{id}/cancel|ship`. */
export function createOrdersRoutes(api: OrdersApi): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

    app.post(
      '/orders',
      {
        onRequest: app.requireUser,
        schema: {
          tags,
          summary: 'Place an order',
          description:
            'Runs the order saga (reserve stock, charge, confirm) and answers when it has ended: 201 with the ' +
            'confirmed order, or the failure (OUT_OF_STOCK, PRODUCT_NOT_FOUND, PAYMENT_DECLINED) with the ' +
            `recorded order's id as \`order_id\`. Also takes the single-item form { product_id, quantity }. ${ORDER_DESCRIPTION}`,
          body: PlaceBody,
          headers: PlaceHeaders,
          response: { 201: OrderSchema },
        },
        // The fault tests crash here: the client has its answer, the process dies right after.
        onResponse: async (_request, reply) => {
          if (reply.statusCode === 201) crashPoint('orders.after_201');
        },
      },
      async (request, reply) => {
        const body = request.body;
        const items =
          'items' in body ? body.items : [{ product_id: body.product_id, quantity: body.quantity }];
        const key = request.headers['idempotency-key'];
        const order = await api.placeOrder(callContext(request), {
          items,
          payment_method: (body.payment_method as PaymentMethod | undefined) ?? DEFAULT_PAYMENT_METHOD,
          ...(body.user_id === undefined ? {} : { user_id: body.user_id }),
          ...(typeof key === 'string' ? { idempotency_key: key } : {}),
        });
        reply.code(201);
        return renderOrder(request.apiVersion, order);
      },
    );

    app.get(
      '/orders',
      {
        onRequest: app.requireUser,
        schema: {
          tags,
          summary: "List the caller's orders, newest first",
          description: ORDER_DESCRIPTION,
          querystring: ListQuery,
          response: { 200: OrderPageSchema },
        },
      },
      async (request) => {
        const { limit, cursor, user_id } = request.query;
        const page = await api.listOrders(callContext(request), {
          limit,
          ...(cursor === undefined ? {} : { cursor }),
          ...(user_id === undefined ? {} : { user_id }),
        });
        return {
          items: page.items.map((order) => renderOrder(request.apiVersion, order)),
          next_cursor: page.next_cursor,
        };
      },
    );

    app.get(
      '/orders/:id',
      {
        onRequest: app.requireUser,
        schema: {
          tags,
          summary: 'Read an order (its owner or an admin)',
          description: ORDER_DESCRIPTION,
          params: IdParams,
          response: { 200: OrderSchema },
        },
      },
      async (request) =>
        renderOrder(request.apiVersion, await api.getOrder(callContext(request), request.params.id)),
    );

    app.get(
      '/orders/:id/events',
      {
        onRequest: app.requireUser,
        schema: {
          tags,
          summary: "An order's event history, oldest first (its owner or an admin)",
          params: IdParams,
          response: { 200: OrderEventsSchema },
        },
      },
      async (request) => api.getOrderEvents(callContext(request), request.params.id),
    );

    app.post(
      '/orders/:id/cancel',
      {
        onRequest: app.requireUser,
        schema: {
          tags,
          summary: 'Cancel a confirmed order: refund, then release the stock (its owner or an admin)',
          params: IdParams,
          response: { 200: OrderSchema },
        },
      },
      async (request) =>
        renderOrder(request.apiVersion, await api.cancelOrder(callContext(request), request.params.id)),
    );

    app.post(
      '/orders/:id/ship',
      {
        onRequest: app.requireAdmin,
        schema: {
          tags,
          summary: 'Ship a confirmed order (admins only)',
          params: IdParams,
          response: { 200: OrderSchema },
        },
      },
      async (request) =>
        renderOrder(request.apiVersion, await api.shipOrder(callContext(request), request.params.id)),
    );
  };
}
