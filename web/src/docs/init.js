// The API documentation page: Swagger UI on docs/openapi.yaml, everything
// from this origin (no validator badge, no remote configuration).  "Try it
// out" calls this server's API ("Authorize" takes an access token): the
// file's servers entry names dev/run's address, so each request is sent to
// the origin of this page instead.
function sameOrigin(req) {
	var u = new URL(req.url, window.location.href);
	req.url = window.location.origin + u.pathname + u.search;
	return req;
}

window.addEventListener("DOMContentLoaded", function () {
	window.ui = SwaggerUIBundle({
		requestInterceptor: sameOrigin,
		url: "/api/docs/openapi.yaml",
		dom_id: "#swagger-ui",
		deepLinking: true,
		presets: [SwaggerUIBundle.presets.apis],
		layout: "BaseLayout",
		validatorUrl: null,
		queryConfigEnabled: false,
		persistAuthorization: false,
		withCredentials: false,
		displayOperationId: true,
		docExpansion: "list",
		defaultModelsExpandDepth: 0,
		tryItOutEnabled: false,
	});
});
