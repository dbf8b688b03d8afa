-- One database per service, as in the split topology on a developer machine.
CREATE DATABASE splitshop_users;
CREATE DATABASE splitshop_catalog;
CREATE DATABASE splitshop_payments;
CREATE DATABASE splitshop_notifications;
CREATE DATABASE splitshop_orders;
