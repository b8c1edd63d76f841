-- Which service each scope of a source deploys (`options.deployments.services`), in file order.
{{ deployment_services_rows() }}
