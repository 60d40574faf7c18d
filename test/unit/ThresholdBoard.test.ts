import { describe, expect, it } from "vitest";
import { BudgetController } from "../../src/budget/BudgetController.js";
import { ThresholdBoard } from "../../src/engine/ThresholdBoard.js";
import { StaticExitPolicy } from "../../src/pipeline/ExitPolicy.js";

const exitFlops = [10, 25, 40, 70];
const controller = () => new BudgetController({ exitFlops, baseThresholds: [0.8, 0.9, 0.95], targetFlops: 30 });

describe("ThresholdBoard", () => {
  it("gives a fixed policy's thresholds as published, whatever is charged", () => {
    const board = ThresholdBoard.create(4, 2, 3);
    board.publish(1, new StaticExitPolicy([0.5, 0.6, 0.7, Number.NEGATIVE_INFINITY]).thresholdRule());
    expect(board.charge(1, 0, 0)).toBe(0);
    expect([0, 1, 2, 3].map((k) => board.threshold(1, k))).toEqual([0.5, 0.6, 0.7, Number.NEGATIVE_INFINITY]);
  });

  it("moves a controller's thresholds with every decision to go on as the controller itself does, whichever worker decides", () => {
    const board = ThresholdBoard.create(4, 2, 1);
    const heard = controller();
    const told = controller();
    board.publish(0, heard.thresholdRule());
    // decisions on two workers, charged on the board; the same decisions told to a twin controller
    for (const [worker, k] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 2],
      [0, 0],
    ] as const) {
      expect(board.charge(0, worker, k)).toBeCloseTo(told.advanced(k), 9);
      for (let j = 0; j < 3; j++) expect(board.threshold(0, j)).toBeCloseTo(told.thresholds()[j]!, 12);
    }
    expect(board.running(0)).toBeCloseTo(told.pendingFlops, 9);
  });

  it("a released request's charges leave the count; a stopped worker's counters start again", () => {
    const board = ThresholdBoard.create(4, 2, 1);
    const c = controller();
    board.publish(0, c.thresholdRule());
    const before = board.threshold(0, 0);
    const a = board.charge(0, 0, 0) + board.charge(0, 0, 1);
    const b = board.charge(0, 1, 0);
    expect(board.threshold(0, 0)).toBeLessThan(before); // going on costs: exits come sooner
    board.release(0, 0, a);
    expect(board.running(0)).toBeCloseTo(b, 9);
    board.resetWorker(1);
    expect(board.running(0)).toBe(0);
    expect(board.threshold(0, 0)).toBe(before);
  });

  it("the main thread's view and a worker's are the same memory", () => {
    const board = ThresholdBoard.create(4, 2, 2);
    const twin = new ThresholdBoard(board.buffer, 4, 2);
    board.publish(1, controller().thresholdRule());
    twin.charge(1, 1, 2);
    expect(board.running(1)).toBe(twin.running(1));
    expect(board.threshold(1, 0)).toBe(twin.threshold(1, 0));
  });

  it("refuses a slot or worker it does not have", () => {
    const board = ThresholdBoard.create(4, 2, 2);
    expect(() => board.threshold(2, 0)).toThrow(RangeError);
    expect(() => board.charge(0, 2, 0)).toThrow(/worker 2: expected 0-1/);
  });
});
