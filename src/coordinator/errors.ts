// Errors that become HTTP answers: a status, a stable code and a message a person understands.

/** The body of every error answer: `{"error": {"code", "message"}}`. */
export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, 'invalid_request', message);
export const unauthorized = (message = 'sign in first: no valid token was sent') => new HttpError(401, 'unauthorized', message);
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);
export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} does not exist`);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);
export const leaseLost = (taskId: string) => new HttpError(409, 'lease_lost', `task ${taskId} is no longer leased to this agent at this attempt`);
export const tooLarge = (message: string) => new HttpError(413, 'too_large', message);
export const tooManyRequests = (message: string) => new HttpError(429, 'too_many_requests', message);
export const insufficientStorage = (message: string) => new HttpError(507, 'insufficient_storage', message);
