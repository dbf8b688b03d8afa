import { inProcess } from '../../../platform/in-process.ts';
import { type NotificationsApi, notificationsMethods } from '../contract.ts';

/** The contract served in process, with arguments and results copied as over the wire. */
export function createNotificationsInProcess(service: NotificationsApi): NotificationsApi {
  return inProcess(service, notificationsMethods);
}
