import { Body, Controller, Get, HttpCode, NotFoundException, Param, ParseIntPipe, Post } from '@nestjs/common';

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

  @Get()
  list(): User[] {
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
