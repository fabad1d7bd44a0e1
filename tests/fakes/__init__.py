"""Local stand-ins for the providers' APIs: real HTTP servers on 127.0.0.1 that speak the documented contracts."""
