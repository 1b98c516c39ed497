// Metadata keys of @nestjs/microservices, @nestjs/websockets and @nestjs/graphql, read by name so
// that the module never imports those optional packages.

/** `@MessagePattern` / `@EventPattern`: the handler's patterns (an array). */
export const RPC_PATTERN_METADATA = 'microservices:pattern';
/** `@MessagePattern` / `@EventPattern`: 1 for a message handler, 2 for an event handler. */
export const RPC_HANDLER_TYPE_METADATA = 'microservices:handler_type';
export const RPC_EVENT_HANDLER = 2;

/** `@WebSocketGateway()` on the class. */
export const WS_GATEWAY_METADATA = 'websockets:is_gateway';
/** `@SubscribeMessage(event)` on the method. */
export const WS_MESSAGE_METADATA = 'message';

/** `@Query()`, `@Mutation()`, `@Subscription()`: the root type of the field. */
export const GRAPHQL_RESOLVER_TYPE_METADATA = 'graphql:resolver_type';
/** The field's name, when given. */
export const GRAPHQL_RESOLVER_NAME_METADATA = 'graphql:resolver_name';
/** `@ResolveField()`: a field of an object type, not a root field. */
export const GRAPHQL_RESOLVE_PROPERTY_METADATA = 'graphql:resolve_property';
/** The token of the GraphQL module's options (`path`). */
export const GRAPHQL_MODULE_OPTIONS = 'GqlModuleOptions';

export const GRAPHQL_ROOT_TYPES: Record<string, 'query' | 'mutation' | 'subscription'> = {
  Query: 'query',
  Mutation: 'mutation',
  Subscription: 'subscription',
};
