import { inProcess } from '../../../platform/in-process.ts';
import { type CatalogApi, catalogMethods } from '../contract.ts';

/** The catalog's contract served in this process, with arguments and results copied as over a wire. */
export const createInProcessCatalog = (service: CatalogApi): CatalogApi => inProcess(service, catalogMethods);
