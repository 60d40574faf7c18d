import { startApp } from "./app.js";
import { ConfigError, helpText, loadConfig } from "./config/config.js";
import { createLogger } from "./logger.js";

/** Composition root: config -> logger -> app; owns signals and the exit code. */
async function main(): Promise<number> {
  let config;
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
    process.stdout.write(helpText() + "\n");
    return 0;
  }
  const log = createLogger(config.logLevel);
  let app;
  try {
    app = await startApp(config, log);
  } catch (err) {
    log.fatal({ err: { message: (err as Error).message } }, `cannot start: ${(err as Error).message}`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "shutting down");
      app.shutdown().then(resolve, (err) => {
        log.error({ err }, "shutdown failed");
        resolve();
      });
    };
    process.on("SIGHUP", () => {
      log.info({ signal: "SIGHUP", modelDir: config.modelDir }, "reloading the model");
      app.reload().catch(() => {}); // app.reload logs the failure; the current version keeps serving
    });
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

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
