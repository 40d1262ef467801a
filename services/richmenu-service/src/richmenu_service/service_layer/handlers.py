"""Use cases of richmenu-service, registered on the message bus. Each runs inside the bus's unit of work;
none commits, except a mass change (ApplyRules), which commits its progress as it goes."""

from __future__ import annotations

from functools import partial

from cityline_common.messagebus import Handlers

from richmenu_service.domain import commands as c
from richmenu_service.service_layer import display, linking, menus, reconcile
from richmenu_service.service_layer.ports import Ports
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork


def handlers(ports: Ports) -> Handlers[AbstractRichmenuUnitOfWork]:
    return (Handlers[AbstractRichmenuUnitOfWork]()
            .command(c.CreateMenu, menus.create_menu)
            .command(c.EditMenu, menus.edit_menu)
            .command(c.UploadTabImage, menus.upload_tab_image)
            .command(c.DesignTab, menus.design_tab)
            .command(c.DeleteMenu, partial(menus.delete_menu, ports=ports))
            .command(c.PublishMenu, partial(menus.publish_menu, ports=ports))
            .command(c.RetryPublications, partial(menus.retry_publications, ports=ports))
            .command(c.SaveRule, partial(display.save_rule, ports=ports))
            .command(c.DeleteRule, display.delete_rule)
            .command(c.SwitchDisasterMode, partial(display.switch_disaster_mode, ports=ports))
            .command(c.RelinkResident, partial(linking.relink_resident, ports=ports))
            .command(c.ApplyRules, partial(linking.apply_rules, ports=ports))
            .command(c.Reconcile, partial(reconcile.reconcile, ports=ports)))
