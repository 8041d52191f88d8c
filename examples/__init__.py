"""Example services that consume the bridge's topics."""
