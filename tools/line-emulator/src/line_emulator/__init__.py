"""A LINE Platform stand-in: Messaging API, rich menus, audiences, insight and LINE Login verify,
validated against LINE's official OpenAPI files, with a simulated population of residents who
follow, block, talk and tap, sent to a webhook URL as real signed webhooks."""
