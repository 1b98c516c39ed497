import { SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';

/** A WebSocket gateway on the app's port (`ws://127.0.0.1:3000/ws`): measured as ws_* metrics. */
@WebSocketGateway({ path: '/ws' })
export class NotificationsGateway {
  @SubscribeMessage('ping')
  ping(): { event: string; data: string } {
    return { event: 'pong', data: new Date().toISOString() };
  }

  @SubscribeMessage('subscribe')
  subscribe(_client: unknown, topic: unknown): { event: string; data: string } {
    if (typeof topic !== 'string' || topic === '') throw new WsException('a topic is required');
    return { event: 'subscribed', data: topic };
  }
}
