// Original file: proto/ranet/v1/classifier.proto

import type { BudgetPoint as _ranet_v1_BudgetPoint, BudgetPoint__Output as _ranet_v1_BudgetPoint__Output } from '../../ranet/v1/BudgetPoint.js';
import type { OraclePoint as _ranet_v1_OraclePoint, OraclePoint__Output as _ranet_v1_OraclePoint__Output } from '../../ranet/v1/OraclePoint.js';

export interface BudgetTable {
  'points'?: (_ranet_v1_BudgetPoint)[];
  'oracle'?: (_ranet_v1_OraclePoint)[];
}

export interface BudgetTable__Output {
  'points': (_ranet_v1_BudgetPoint__Output)[];
  'oracle': (_ranet_v1_OraclePoint__Output)[];
}
