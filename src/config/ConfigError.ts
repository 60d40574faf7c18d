/** A setting that is missing, malformed or contradicts another: the message names the key and where it came from. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
