"""The trial and the subscription: entitlements, Stars payments and the notices about them."""
