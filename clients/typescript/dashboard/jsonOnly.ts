/**
 * Stands in for `@microsoft/signalr-protocol-msgpack` in the dashboard's bundle (tsup.config.ts): the dashboard speaks
 * JSON, and the MessagePack protocol with its codec would add about 30 KB to a script every page load fetches.
 */
export class MessagePackHubProtocol {
  constructor() {
    throw new Error("the dashboard bundle speaks JSON only; the SDK package has the MessagePack protocol");
  }
}
