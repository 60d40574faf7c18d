// Original file: proto/inference/model_config.proto

import type { ModelInput as _inference_ModelInput, ModelInput__Output as _inference_ModelInput__Output } from '../inference/ModelInput.js';
import type { ModelOutput as _inference_ModelOutput, ModelOutput__Output as _inference_ModelOutput__Output } from '../inference/ModelOutput.js';
import type { ModelInstanceGroup as _inference_ModelInstanceGroup, ModelInstanceGroup__Output as _inference_ModelInstanceGroup__Output } from '../inference/ModelInstanceGroup.js';
import type { ModelDynamicBatching as _inference_ModelDynamicBatching, ModelDynamicBatching__Output as _inference_ModelDynamicBatching__Output } from '../inference/ModelDynamicBatching.js';
import type { ModelParameter as _inference_ModelParameter, ModelParameter__Output as _inference_ModelParameter__Output } from '../inference/ModelParameter.js';

export interface ModelConfig {
  'name'?: (string);
  'platform'?: (string);
  'max_batch_size'?: (number);
  'input'?: (_inference_ModelInput)[];
  'output'?: (_inference_ModelOutput)[];
  'instance_group'?: (_inference_ModelInstanceGroup)[];
  'dynamic_batching'?: (_inference_ModelDynamicBatching | null);
  'parameters'?: ({[key: string]: _inference_ModelParameter});
  'backend'?: (string);
  'scheduling_choice'?: "dynamic_batching";
}

export interface ModelConfig__Output {
  'name': (string);
  'platform': (string);
  'max_batch_size': (number);
  'input': (_inference_ModelInput__Output)[];
  'output': (_inference_ModelOutput__Output)[];
  'instance_group': (_inference_ModelInstanceGroup__Output)[];
  'dynamic_batching'?: (_inference_ModelDynamicBatching__Output | null);
  'parameters': ({[key: string]: _inference_ModelParameter__Output});
  'backend': (string);
  'scheduling_choice'?: "dynamic_batching";
}
