/** One ref update of a push, and a refusal of one: the shapes the hook's parts share. */

export interface PushedRef {
  ref: string;
  old: string | null;
  new: string | null;
}

export interface PushRejection {
  ref: string;
  message: string;
  commit?: string;
  path?: string;
  /** The environment owning the path, or the one the rule is about. */
  environment?: string;
  /** What to do instead. */
  hint?: string;
  /** The policy's verdict code, or the validation issue's code, when the rejection is one of those. */
  code?: string;
}
