package io.medfuse.worker.metrics;

/** Liveness and readiness as the HTTP endpoints report them. Called on the HTTP server's thread; must not block. */
public interface HealthCheck {

    /** {@code /health/live}: false means "restart me". */
    Health live();

    /** {@code /health/ready}: false means "send me no work" (Kubernetes takes the pod out of rotation). */
    Health ready();
}
