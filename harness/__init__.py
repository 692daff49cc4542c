"""What bin/, bench/ and the tests share to drive Conduit from outside: the RealWorld suites, ports,
processes, waiting and HTTP. Not part of the shipped package."""
