# A Consul service definition for a coordinator that does not register itself
# (put it in the agent's config dir and run `consul reload`). A coordinator
# started with --coordinator.register=consul://127.0.0.1:8500/scalemesh-coordinator
# registers the same thing by itself and removes it on a graceful stop.
service {
  name    = "scalemesh-coordinator"
  id      = "coordinator-10.0.0.5-7070"
  address = "10.0.0.5"
  port    = 7070
  tags    = ["region:eu-west", "zone:eu-west-1a"]
  meta = {
    region = "eu-west"
    zone   = "eu-west-1a"
    kind   = "coordinator"
  }
  check {
    id                                = "coordinator-10.0.0.5-7070-grpc"
    name                              = "scalemesh coordinator gRPC health"
    grpc                              = "10.0.0.5:7070"
    grpc_use_tls                      = false
    interval                          = "5s"
    timeout                           = "5s"
    deregister_critical_service_after = "1m"
  }
}
