"""The domain of dispatcher: deliveries (配信) as plain Python, no I/O, no clock.

- :mod:`.lifecycle`: the state table and the :class:`~.lifecycle.Delivery` aggregate (approval, sending hours,
  second confirmation);
- :mod:`.messages`: a delivery's content checked against LINE's rules;
- :mod:`.schedule`: 予約配信 and 定期配信 rules in Japan time, with holidays;
- :mod:`.jobs`: send jobs of ≤ 500 with stable retry keys, and what to do with LINE's answers;
- :mod:`.commands`, :mod:`.events`: the messages in and out of the service layer.
"""
