"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by check.py).

A `101 Switching Protocols` hands the connection to the WebSocket, but
`requests` (urllib3) puts it back in its keep-alive pool like any other, and
the next request written on it reaches the server as a WebSocket frame: the
server closes the socket (1002) and the client reports a "protocol error"
for an operation that did nothing wrong. A client must not reuse an upgraded
connection, so this one closes it as the response arrives.
"""

import requests.adapters

_build_response = requests.adapters.HTTPAdapter.build_response


def _build_response_closing_upgrades(self, request, response):
    if response.status == 101 and response.connection is not None:
        response.connection.close()
    return _build_response(self, request, response)


requests.adapters.HTTPAdapter.build_response = _build_response_closing_upgrades
