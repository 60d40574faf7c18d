import pino, { type Logger } from "pino";

/** The root logger (JSON lines on stdout); components take child loggers. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "ranet-serving" } });
}
