import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { respond } from '../conversation/respond';
import { TasksService } from './tasks.service';

@Controller('v1/tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  create(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/tasks', req, reply, () => this.tasks.create(req, reply));
  }

  @Get(':id')
  get(@Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/tasks/{id}', req, reply, () => this.tasks.get(req, reply, id));
  }

  @Get(':id/events')
  events(@Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const sse = String(req.headers.accept ?? '').includes('text/event-stream');
    return respond('/v1/tasks/{id}/events', req, reply, () => (sse ? this.tasks.streamEvents(req, reply, id).then(() => undefined) : this.tasks.events(req, reply, id)));
  }

  @Get(':id/content')
  content(@Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/tasks/{id}/content', req, reply, () => this.tasks.content(req, reply, id));
  }

  @Post(':id/cancel')
  cancel(@Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/tasks/{id}/cancel', req, reply, () => this.tasks.cancel(req, reply, id));
  }
}
