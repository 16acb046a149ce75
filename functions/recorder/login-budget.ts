/**
 * Failed logins the camera has seen from this recorder, counted where the credentials leave it (the camera
 * relay): a 401 or 403 to a request it signed. Cameras lock an account after a few failures whatever came
 * between them, so a dropped connection or a timeout between two refusals does not reset the count; a login
 * the camera accepts does, and so does a person's `/record/on`.
 */
export class LoginBudget {
  private refusals = 0;

  constructor(readonly max: number) {}

  /** Refused logins since the last accepted one or the last renewal. */
  get failed(): number {
    return this.refusals;
  }

  /** No credentials may be sent any more: that would risk the account. */
  get spent(): boolean {
    return this.refusals >= this.max;
  }

  refused(): void {
    this.refusals += 1;
  }

  accepted(): void {
    this.refusals = 0;
  }

  /** A person asked again (`/record/on`), or the recorder started: a new budget. */
  renew(): void {
    this.refusals = 0;
  }
}
