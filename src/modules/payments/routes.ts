import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { callContext } from '../../platform/http/context.ts';
import { renderMoney } from '../../platform/money.ts';
import type { PaymentsApi } from './contract.ts';

const ListQuery = Type.Object({ order_id: Type.String({ minLength: 1, maxLength: 100 }) });
const PaymentSchema = Type.Object({
  id: Type.String(),
  order_id: Type.String(),
  kind: Type.Union([Type.Literal('charge'), Type.Literal('refund')]),
  amount: Type.Union(
    [
      Type.Number(),
      Type.Object({ amount_minor: Type.Integer(), currency: Type.String() }, { additionalProperties: false }),
    ],
    { description: 'v1: a decimal number of major units; v2: { amount_minor, currency }' },
  ),
  status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
  created_at: Type.String({ format: 'date-time' }),
});

/** `GET /payments?order_id=`: an order's charges and refunds, for its owner or an admin. */
export function createPaymentsRoutes(api: PaymentsApi): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/payments',
      {
        onRequest: app.requireUser,
        schema: {
          tags: ['payments'],
          summary: "An order's charges and refunds, oldest first",
          security: [{ bearer: [] }],
          querystring: ListQuery,
          response: { 200: Type.Array(PaymentSchema) },
        },
      },
      async (request) => {
        const payments = await api.listPayments(callContext(request), request.query.order_id);
        return payments.map((payment) => ({
          id: payment.id,
          order_id: payment.order_id,
          kind: payment.kind,
          amount: renderMoney(request.apiVersion, payment.amount_minor, payment.currency),
          status: payment.status,
          created_at: payment.created_at,
        }));
      },
    );
  };
}
