import { imageCostMicros, secondsCostMicros, toSafeNumber, type Pricing } from '@gateway/contracts';
import type { ImageInput, TaskInput, TaskType, VideoInput } from './task.types';

/** What a task costs when it succeeds: video per second requested, MJ per task, image per image. */
export function taskCostMicros(type: TaskType, pricing: Pricing, input: TaskInput, images?: number): number {
  switch (type) {
    case 'video':
      return secondsCostMicros(pricing, (input as VideoInput).seconds * 1000);
    case 'mj':
      return toSafeNumber(BigInt(pricing.per_task_micros ?? 0));
    case 'image':
      return imageCostMicros(pricing, images ?? (input as ImageInput).n);
  }
}
