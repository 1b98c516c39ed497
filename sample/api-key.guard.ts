import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';

@Injectable()
export class ApiKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (req.headers['x-api-key'] !== 'sample') throw new UnauthorizedException('x-api-key: sample is required');
    return true;
  }
}
