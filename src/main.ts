import { startApp } from "./app.js";
import { ConfigError, helpText, loadConfig } from "./config/config.js";
import { createLogger } from "./logger.js";

/**
 * Composition root: config -> logger -> app; owns signals and the exit code: 0 after a clean
 * drain, 1 when admitted requests had to be cancelled at the end of the grace period or the
 * server could not start, 2 for bad configuration (flags, environment, or a repository's
 * repository.yaml).
 */
async function main(): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config === "help") {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  const log = createLogger(config.logLevel);
  let app: Awaited<ReturnType<typeof startApp>>;
  try {
    app = await startApp(config, log);
  } catch (err) {
    log.fatal({ err }, `cannot start: ${(err as Error).message}`);
    return err instanceof ConfigError ? 2 : 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "shutting down");
      // whatever is left open, the process ends shortly after the grace period
      setTimeout(() => {
        log.error({ graceMs: config.shutdownGraceMs }, "shutdown did not finish within the grace period; exiting");
        process.exit(1);
      }, config.shutdownGraceMs + SHUTDOWN_SLACK_MS).unref();
      app.shutdown().then(
        (drained) => resolve(drained ? 0 : 1),
        (err) => {
          log.error({ err }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.on("SIGHUP", () => {
      log.info({ signal: "SIGHUP", repository: config.modelDir ?? config.modelRepository }, "rescanning the models");
      app.rescan().catch(() => {}); // each model's reload logs its failure; what served keeps serving
    });
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}

/** Time past the grace period that closing connections and sessions may take before the process is ended. */
const SHUTDOWN_SLACK_MS = 2000;

main().then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err) => {
    process.stderr.write(`fatal: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
