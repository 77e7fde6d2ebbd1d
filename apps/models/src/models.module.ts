import { Module, type DynamicModule } from '@nestjs/common';
import type { ModelsConfig } from '@gateway/config';
import { ChannelRepository } from './channels/channel.repository';
import { ChannelsController } from './channels/channels.controller';
import { ChannelsService } from './channels/channels.service';
import { ModelRepository } from './registry/model.repository';
import { RegistryController } from './registry/registry.controller';
import { RegistryService } from './registry/registry.service';
import { ChangePublisher } from './shared/change-publisher';
import { InfraModule } from '@gateway/db';

@Module({})
export class ModelsModule {
  static forRoot(config: ModelsConfig): DynamicModule {
    return {
      module: ModelsModule,
      imports: [InfraModule.forRoot(config, 5)],
      controllers: [RegistryController, ChannelsController],
      providers: [RegistryService, ModelRepository, ChannelsService, ChannelRepository, ChangePublisher],
    };
  }
}
