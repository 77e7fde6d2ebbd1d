import { Controller, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { respond } from '../conversation/respond';
import { MediaService } from './media.service';

@Controller('v1')
export class MediaController {
  constructor(private readonly media: MediaService) {}

  @Post('embeddings')
  embeddings(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/embeddings', req, reply, () => this.media.embeddings(req, reply));
  }

  @Post('images/generations')
  imageGenerations(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/images/generations', req, reply, () => this.media.imageGenerations(req, reply));
  }

  @Post('images/edits')
  imageEdits(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/images/edits', req, reply, () => this.media.imageEdits(req, reply));
  }

  @Post('audio/transcriptions')
  transcriptions(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/audio/transcriptions', req, reply, () => this.media.transcriptions(req, reply));
  }

  @Post('audio/speech')
  speech(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/audio/speech', req, reply, () => this.media.speech(req, reply));
  }
}
