import { Body, Controller, Get, HttpCode, NotFoundException, Param, ParseIntPipe, Post, Query } from '@nestjs/common';

export interface User {
  id: number;
  name: string;
}

@Controller({ path: 'users', version: '1' })
export class UsersController {
  private readonly users = new Map<number, User>([
    [1, { id: 1, name: 'Ada' }],
    [2, { id: 2, name: 'Grace' }],
  ]);

  /** `?delayMs=` (up to 2 s) answers that much later: a slow endpoint to watch on the status page. */
  @Get()
  async list(@Query('delayMs') delayMs?: string): Promise<User[]> {
    const delay = Math.min(Number(delayMs) || 0, 2000);
    if (delay > 0) await new Promise(resolve => setTimeout(resolve, delay));
    return [...this.users.values()];
  }

  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number): User {
    const user = this.users.get(id);
    if (!user) throw new NotFoundException(`user ${id} not found`);
    return user;
  }

  @Post()
  @HttpCode(201)
  create(@Body() body: { name?: string }): User {
    const user = { id: this.users.size + 1, name: body.name ?? 'anonymous' };
    this.users.set(user.id, user);
    return user;
  }
}
