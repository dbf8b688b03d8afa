/** The methods of a contract interface, listed once so every adapter serves exactly the same set. */
export type MethodNames<Api> = readonly (keyof Api & string)[];

/**
 * The in-process adapter of a module's contract. Arguments and results are copied as they would be over
 * the wire, so a caller can neither change the module's state through a returned object nor rely on
 * anything that would not survive JSON (a Date, a class, a function).
 */
export function inProcess<Api extends object>(impl: Api, methods: MethodNames<Api>): Api {
  const adapter: Record<string, unknown> = {};
  for (const name of methods) {
    const method = impl[name];
    if (typeof method !== 'function') throw new Error(`${name} is not a method of this module`);
    adapter[name] = async (...args: unknown[]) =>
      structuredClone(await method.apply(impl, structuredClone(args)));
  }
  return Object.freeze(adapter) as Api;
}
