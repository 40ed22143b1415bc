import type { ErrorRequestHandler, RequestHandler } from 'express';
import { toWardenError, WardenError } from '../errors/catalogue.ts';
import type { Logger } from '../log/logger.ts';

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

/** Turns body-parser's errors into catalogue errors; anything else unknown becomes InternalError. */
function fromHttpError(error: unknown): WardenError {
  const type = (error as BodyParserError | null)?.type;
  if (type === 'entity.parse.failed')
    return new WardenError('BadRequestError', 'the request body is not valid JSON', { cause: error });
  if (type === 'entity.too.large')
    return new WardenError('PayloadTooLargeError', 'the request body is too large', { cause: error });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new WardenError('UnsupportedMediaTypeError', 'unsupported request encoding', { cause: error });
  }
  // Any other client fault body-parser reports (e.g. a `content-encoding: gzip` body that is not
  // gzip) is a 4xx http-error marked `expose`: the client's fault, never a 500.
  const { status, expose } = (error ?? {}) as BodyParserError;
  if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return new WardenError('BadRequestError', 'the request body could not be read', { cause: error });
  }
  return toWardenError(error);
}

/** The JSON error responder shared by every route: `{ error: { name, code, message } }`. */
export function createErrorResponder(log: Logger): ErrorRequestHandler {
  return function respondWithError(error: unknown, _request, response, _next) {
    const wardenError = fromHttpError(error);
    if (wardenError.name === 'InternalError') log.error('request failed', { error });
    if (wardenError.retryAfter !== undefined)
      response.setHeader('Retry-After', String(wardenError.retryAfter));
    response.status(wardenError.status).json(wardenError.toJSON());
  };
}

export const notFound: RequestHandler = (_request, _response, next) => {
  next(new WardenError('NotFoundError', 'no such route'));
};
