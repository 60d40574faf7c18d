// Original file: proto/ranet/v1/classifier.proto

import type { BudgetPoint as _ranet_v1_BudgetPoint, BudgetPoint__Output as _ranet_v1_BudgetPoint__Output } from '../../ranet/v1/BudgetPoint.js';
import type { Long } from '@grpc/proto-loader';

export interface BudgetStatus {
  'mode'?: (string);
  'target_flops'?: (number | string | Long);
  'target_fraction'?: (number | string);
  'realized_flops'?: (number | string);
  'observed_requests'?: (number | string | Long);
  'knob'?: (number | string);
  'thresholds'?: (number | string)[];
  'start_point'?: (_ranet_v1_BudgetPoint | null);
  'load_factor'?: (number | string);
  'score_rule'?: (string);
  'feed_forward_knob'?: (number | string);
  'integral_knob'?: (number | string);
  'inflight_charged_flops'?: (number | string);
}

export interface BudgetStatus__Output {
  'mode': (string);
  'target_flops': (number);
  'target_fraction': (number);
  'realized_flops': (number);
  'observed_requests': (number);
  'knob': (number);
  'thresholds': (number)[];
  'start_point': (_ranet_v1_BudgetPoint__Output | null);
  'load_factor': (number);
  'score_rule': (string);
  'feed_forward_knob': (number);
  'integral_knob': (number);
  'inflight_charged_flops': (number);
}
