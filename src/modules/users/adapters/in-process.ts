import { inProcess } from '../../../platform/in-process.ts';
import { type UsersApi, usersMethods } from '../contract.ts';

/** The users contract served in process, with arguments and results copied as over the wire. */
export const createUsersInProcessAdapter = (service: UsersApi): UsersApi => inProcess(service, usersMethods);
