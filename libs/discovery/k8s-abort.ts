// Cancelling a request of @kubernetes/client-node's generated clients: they
// take no AbortSignal, but a middleware can hand one to the HTTP request.
import { Observable, type ObservableMiddleware } from "@kubernetes/client-node";

export function abortWith(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (request) => {
      request.setSignal(signal);
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
}
