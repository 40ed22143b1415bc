import type { ErrorRequestHandler, RequestHandler } from 'express';
import { toWardenError, WardenError } from '../errors/catalogue.ts';
import type { Logger } from '../log/logger.ts';

interface BodyParserError {
  type?: string;
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
