// Original file: proto/ranet/v1/classifier.proto

import type { InputSpec as _ranet_v1_InputSpec, InputSpec__Output as _ranet_v1_InputSpec__Output } from '../../ranet/v1/InputSpec.js';
import type { ExitInfo as _ranet_v1_ExitInfo, ExitInfo__Output as _ranet_v1_ExitInfo__Output } from '../../ranet/v1/ExitInfo.js';
import type { BudgetPoint as _ranet_v1_BudgetPoint, BudgetPoint__Output as _ranet_v1_BudgetPoint__Output } from '../../ranet/v1/BudgetPoint.js';

export interface ModelMetadata {
  'name'?: (string);
  'version'?: (string);
  'labels'?: (string)[];
  'input'?: (_ranet_v1_InputSpec | null);
  'exits'?: (_ranet_v1_ExitInfo)[];
  'budget_table'?: (_ranet_v1_BudgetPoint)[];
  'score_rule'?: (string);
}

export interface ModelMetadata__Output {
  'name': (string);
  'version': (string);
  'labels': (string)[];
  'input': (_ranet_v1_InputSpec__Output | null);
  'exits': (_ranet_v1_ExitInfo__Output)[];
  'budget_table': (_ranet_v1_BudgetPoint__Output)[];
  'score_rule': (string);
}
