#!/usr/bin/env python3
"""CDK entry point: settings from cdk.json context -> TollgateStack -> cdk-nag checks -> synth."""

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.settings import Settings
from infra.stack import TollgateStack

app = cdk.App()
settings = Settings.from_context({key: app.node.try_get_context(key) for key in Settings.context_keys()})
TollgateStack(app, "Tollgate", settings=settings)
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
